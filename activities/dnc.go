package activities

import (
	"context"
	"errors"
	"fmt"

	"go.temporal.io/sdk/temporal"

	"switchboard/pgstore"
	"switchboard/routing"
)

// ErrTypeDoNotCall: an outbound call to a number on the tenant's do-not-call list
// (or to a number that cannot be checked against it) is refused for good.
const ErrTypeDoNotCall = "DoNotCall"

// refuseDoNotCall refuses, for good, an outbound call whose number is on the
// tenant's do-not-call list. The API checks first; this is the last check before the
// call is placed, for starts that did not come through it and numbers listed
// meanwhile. Only voice is checked: the list suppresses calls.
func (a *Activities) refuseDoNotCall(ctx context.Context, ix pgstore.Interaction) error {
	if ix.Direction != pgstore.Outbound || ix.Channel != routing.Voice {
		return nil
	}
	listed, err := a.Store.DoNotCallListed(ctx, ix.TenantID, ix.To)
	var invalid *pgstore.ValidationError
	switch {
	case errors.As(err, &invalid):
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("the number %q cannot be dialed: it %s", ix.To, invalid.Message), ErrTypeDoNotCall, err, "to")
	case err != nil:
		return err
	case listed:
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s is on the do-not-call list: the call was not placed", ix.To), ErrTypeDoNotCall, nil, "to")
	}
	return nil
}

// listDisposedCustomer puts the customer's number of an interaction disposed with a
// blacklist code on the do-not-call list, added by whoever disposed it, and notes the
// number in the disposal's detail. A retry finds the number listed and adds nothing.
func (a *Activities) listDisposedCustomer(ctx context.Context, u pgstore.InteractionUpdate, code string, detail map[string]any) error {
	phone, _, err := a.Store.BlacklistInteractionCustomer(ctx, u.TenantID, u.InteractionID, u.State.DisposedBy, code)
	if err != nil {
		return storeError(err)
	}
	if phone != "" {
		detail["doNotCall"] = phone
	}
	return nil
}
