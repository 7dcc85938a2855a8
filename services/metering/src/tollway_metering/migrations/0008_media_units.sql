-- The units images and audio are billed in, beside tokens: images made, seconds of audio
-- transcribed or translated, characters of text spoken.
ALTER TABLE ${database}.usage_requests ADD COLUMN IF NOT EXISTS images UInt32 DEFAULT 0;
ALTER TABLE ${database}.usage_requests ADD COLUMN IF NOT EXISTS audio_seconds Float64 DEFAULT 0;
ALTER TABLE ${database}.usage_requests ADD COLUMN IF NOT EXISTS characters UInt32 DEFAULT 0;
