"""Which expiry an edit may give a key: a rotated or revoked key's end is final (pure).

Rotation sets the old key's `expires_at` to the end of its grace period; letting an edit move
it later (or to 0, never) would bring a key back that its owner replaced."""

from __future__ import annotations

from tollway_common.control import KeyRecord


def expiry_refusal(record: KeyRecord, expires_at: int) -> str | None:
    """Why `record` may not get `expires_at`, or None when it may."""
    if record.revoked_at:
        return f"The key '{record.key_id}' is revoked; its expiry cannot change."
    if not record.rotated_to:
        return None
    if expires_at and expires_at <= record.expires_at:
        return None
    return (
        f"The key '{record.key_id}' was rotated to '{record.rotated_to}'; its expiry can only "
        f"move earlier than {record.expires_at}, the end of its grace period."
    )
