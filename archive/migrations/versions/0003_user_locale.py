"""service: the language each user chose for the web app (users.locale; NULL: Dutch)

Revision ID: 0003_user_locale
Revises: 0002_service
"""
import sqlalchemy as sa
from alembic import op

revision = '0003_user_locale'
down_revision = '0002_service'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('locale', sa.String(length=10), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('locale')
