-- A connector whose deployment's delete the mass-delete guard held back is
-- `held` (last_error says which deployment and why) until a pass may delete it.
ALTER TABLE connector_state DROP CONSTRAINT connector_state_status_check;
ALTER TABLE connector_state ADD CONSTRAINT connector_state_status_check
  CHECK (status IN ('synced', 'pending', 'failed', 'invalid', 'conflict', 'held', 'deleted'));
