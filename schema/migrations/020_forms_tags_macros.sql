-- Reserved for forms_tags_macros; filled in by the change that introduces it.
SELECT 1;

---- create above / drop below ----

SELECT 1;
