-- Name search only uses this index for companies (contacts are searched by first and
-- last name, deals and invoices rarely), and an index over every record's `name` slowed
-- seeding of large accounts: keep it for companies only.
DROP INDEX IF EXISTS records_name;
CREATE INDEX records_name ON records (account_id, lower(btrim(properties ->> 'name')))
    WHERE object = 'companies';

-- Associations now exist between live records only: deleting a record removes its rows.
DELETE FROM associations a USING records r
 WHERE r.archived AND (r.id = a.from_id OR r.id = a.to_id);
