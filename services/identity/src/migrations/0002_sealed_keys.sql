-- Which key-encryption key sealed `private_key` (see kek.rs); NULL: the key is stored in the
-- clear, as every key was before sealing existed. Identity seals such rows at its first start
-- with a key-encryption key configured.
ALTER TABLE signing_keys ADD COLUMN kek_id text;
