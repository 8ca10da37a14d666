"""records: each package's retention (valuation, end date, disposition) and legal holds

Revision ID: 0002_records
Revises: 0002_package (its own branch 'records', on the package branch: retention rows
refer to packages)
"""
import sqlalchemy as sa
from alembic import op

revision = '0002_records'
down_revision = '0002_package'
branch_labels = ('records',)
depends_on = None


def upgrade() -> None:
    op.create_table(
        'retention',
        sa.Column('package_id', sa.String(length=200), nullable=False),
        sa.Column('category', sa.String(length=50), nullable=True),
        sa.Column('waardering', sa.String(length=1), nullable=False),
        sa.Column('bewaartermijn', sa.String(length=40), nullable=True),
        sa.Column('trigger', sa.Text(), nullable=True),
        sa.Column('trigger_date', sa.Date(), nullable=False),
        sa.Column('end_date', sa.Date(), nullable=True),
        sa.Column('transfer_date', sa.Date(), nullable=True),
        sa.Column('disposition', sa.String(length=20), nullable=True),
        sa.Column('disposition_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('valued_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['package_id'], ['packages.id'],
                                name=op.f('fk_retention_package_id_packages')),
        sa.PrimaryKeyConstraint('package_id', name=op.f('pk_retention')),
    )
    op.create_index(op.f('ix_retention_end_date'), 'retention', ['end_date'], unique=False)
    op.create_table(
        'holds',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('scope', sa.String(length=10), nullable=False),
        sa.Column('target', sa.String(length=200), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('until', sa.Date(), nullable=True),
        sa.Column('created_by', sa.String(length=200), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('released_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('released_by', sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_holds')),
    )
    op.create_index('ix_holds_scope', 'holds', ['scope', 'target'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_holds_scope', table_name='holds')
    op.drop_table('holds')
    op.drop_index(op.f('ix_retention_end_date'), table_name='retention')
    op.drop_table('retention')
