"""search index: embeddings, collection embedders, index outbox

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("chunks") as batch_op:
        batch_op.add_column(sa.Column("embed_hash", sa.String(length=32), nullable=True))
        batch_op.create_index("ix_chunks_embed_hash", ["embed_hash"], unique=False)
    op.create_table(
        "collection_embedders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("collection_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("dimension", sa.Integer(), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["collection_id"], ["collections.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("collection_id", "key"),
    )
    op.create_table(
        "embeddings",
        sa.Column("embedder_key", sa.String(length=255), nullable=False),
        sa.Column("embed_hash", sa.String(length=32), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("embedder_key", "embed_hash"),
    )
    op.create_table(
        "index_pending",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("collection_id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["collection_id"], ["collections.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("seq"),
    )
    op.create_index("ix_index_pending_document_id", "index_pending", ["document_id"])
    # Every document already in the catalog goes into the new index.
    op.execute(
        "INSERT INTO index_pending (collection_id, document_id) "
        "SELECT collection_id, id FROM documents WHERE status = 'indexed'"
    )


def downgrade() -> None:
    op.drop_index("ix_index_pending_document_id", table_name="index_pending")
    op.drop_table("index_pending")
    op.drop_table("embeddings")
    op.drop_table("collection_embedders")
    with op.batch_alter_table("chunks") as batch_op:
        batch_op.drop_index("ix_chunks_embed_hash")
        batch_op.drop_column("embed_hash")
