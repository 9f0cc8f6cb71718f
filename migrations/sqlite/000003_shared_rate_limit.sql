-- Kept in step with migrations/postgres/000003: there, a webhook's rate-limit bucket lives on
-- its row so that several worker processes share it. A SQLite store has one worker process,
-- whose in-memory bucket (src/dispatch/webhook-pacing.ts) is already exact: nothing to add.
SELECT 1;
