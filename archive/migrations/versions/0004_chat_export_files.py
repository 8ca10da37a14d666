"""chat: export-file sources (WhatsApp, Signal, Teams, Telegram): time zone, locale, owner

Revision ID: 0004_chat_export_files
Revises: 0003_chat_keys
"""
import sqlalchemy as sa
from alembic import op

revision = '0004_chat_export_files'
down_revision = '0003_chat_keys'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('chat_sources', schema=None) as batch_op:
        batch_op.add_column(sa.Column('timezone', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('locale', sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column('owner', sa.String(length=300), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('chat_sources', schema=None) as batch_op:
        batch_op.drop_column('owner')
        batch_op.drop_column('locale')
        batch_op.drop_column('timezone')
