-- The batch a request was a line of (`/v1/batches`), empty for live requests; such rows are
-- charged at the model's batch price where one is set (`Price.batch_multiplier`).
ALTER TABLE ${database}.usage_requests ADD COLUMN IF NOT EXISTS batch_id String DEFAULT '';
