"""chat: key export file for end-to-end encrypted rooms

Revision ID: 0003_chat_keys
Revises: 0002_chat
"""
import sqlalchemy as sa
from alembic import op

revision = '0003_chat_keys'
down_revision = '0002_chat'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('chat_sources', schema=None) as batch_op:
        batch_op.add_column(sa.Column('keys_file', sa.String(length=1000), nullable=True))
        batch_op.add_column(sa.Column('keys_passphrase_ref', sa.String(length=300), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('chat_sources', schema=None) as batch_op:
        batch_op.drop_column('keys_passphrase_ref')
        batch_op.drop_column('keys_file')
