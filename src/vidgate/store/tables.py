"""The schema. Alembic migrations in `migrations/` create it; a test checks they agree."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("token_prefix", String(16), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("revoked_at", BigInteger),
)

videos = Table(
    "videos",
    metadata,
    # `seq` orders the queue and list pages; `id` is the public name.
    Column(
        "seq",
        Integer().with_variant(BigInteger, "postgresql"),
        primary_key=True,
        autoincrement=True,
    ),
    Column("id", String(64), nullable=False, unique=True),
    Column("owner", String(40), ForeignKey("api_keys.id"), nullable=False),
    Column("model", String(200), nullable=False),
    Column("engine", String(64), nullable=False),
    Column("prompt", Text, nullable=False),
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    Column("seconds", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("progress", Integer, nullable=False, default=0),
    Column("created_at", BigInteger, nullable=False),
    Column("started_at", BigInteger),
    Column("completed_at", BigInteger),
    Column("expires_at", BigInteger),
    Column("remixed_from_video_id", String(64)),
    Column("error_code", String(64)),
    Column("error_message", Text),
    Column("has_reference", Boolean, nullable=False, default=False),
    Column("media_prefix", String(300)),
    Column("idempotency_key", String(200)),
    # JSON an engine saved for this job (a relayed job's upstream id), for the next attempt.
    Column("engine_state", Text),
    # The queue: who holds the job, until when, and how many times it was tried.
    Column("attempts", Integer, nullable=False, default=0),
    Column("lease_owner", String(64)),
    Column("lease_expires_at", Float),
    Column("deleted_at", BigInteger),
    Column("purged_at", BigInteger),
    UniqueConstraint("owner", "idempotency_key", name="uq_videos_owner_idempotency_key"),
    Index("ix_videos_queue", "status", "seq"),
    Index("ix_videos_owner_seq", "owner", "seq"),
)

workers = Table(
    "workers",
    metadata,
    # Each worker's latest report: what operators see of channels they can't reach.
    Column("id", String(64), primary_key=True),
    Column("started_at", BigInteger, nullable=False),
    Column("seen_at", BigInteger, nullable=False),
    Column("report", Text, nullable=False),  # JSON
)
