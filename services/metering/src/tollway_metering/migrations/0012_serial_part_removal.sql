-- Outdated parts (what merges replaced) are removed one after another by each table's own
-- cleanup. From 100 parts at once (concurrent_part_removal_threshold's default) ClickHouse
-- removes them on a pool of up to 128 threads; metering's tables pile up that many between
-- two cleanups (each insert writes a part per table), and embedded chDB's global pool keeps
-- every thread such a burst starts, for good, each holding three /proc/self/task/<tid>
-- files once it runs query work (docs/soak.md, "What bounds metering's threads"). Metering's
-- parts are small: removing them one by one costs the cleanup a few milliseconds.
ALTER TABLE ${database}.usage_requests MODIFY SETTING concurrent_part_removal_threshold = 1000000;
ALTER TABLE ${database}.usage_minute MODIFY SETTING concurrent_part_removal_threshold = 1000000;
ALTER TABLE ${database}.cost_daily MODIFY SETTING concurrent_part_removal_threshold = 1000000;
ALTER TABLE ${database}.audit_events MODIFY SETTING concurrent_part_removal_threshold = 1000000;
ALTER TABLE ${database}.request_bodies MODIFY SETTING concurrent_part_removal_threshold = 1000000;
ALTER TABLE ${database}.alerts MODIFY SETTING concurrent_part_removal_threshold = 1000000;
