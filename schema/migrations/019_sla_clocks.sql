-- Reserved for sla_clocks; filled in by the change that introduces it.
SELECT 1;

---- create above / drop below ----

SELECT 1;
