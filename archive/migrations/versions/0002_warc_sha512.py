"""web: sha512 of each WARC file, computed while it was written

Revision ID: 0002_warc_sha512
Revises: 0001_core
"""
import sqlalchemy as sa
from alembic import op

revision = '0002_warc_sha512'
down_revision = '0001_core'
branch_labels = ('web',)
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('warc_files', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sha512', sa.String(length=128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('warc_files', schema=None) as batch_op:
        batch_op.drop_column('sha512')
