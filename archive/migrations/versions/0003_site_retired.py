"""web: a removed site with runs is retired (retired_at), not deleted

Revision ID: 0003_site_retired
Revises: 0002_warc_sha512
"""
import sqlalchemy as sa
from alembic import op

revision = '0003_site_retired'
down_revision = '0002_warc_sha512'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sites', schema=None) as batch_op:
        batch_op.add_column(sa.Column('retired_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('sites', schema=None) as batch_op:
        batch_op.drop_column('retired_at')
