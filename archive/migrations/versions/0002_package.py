"""package: sealed packages and selectielijst categories

Revision ID: 0002_package
Revises: 0001_core
"""
from alembic import op
import sqlalchemy as sa


revision = '0002_package'
down_revision = '0001_core'
branch_labels = ('package',)
depends_on = None


def upgrade() -> None:
    op.create_table('packages',
    sa.Column('id', sa.String(length=200), nullable=False),
    sa.Column('source_kind', sa.String(length=20), nullable=False),
    sa.Column('source_name', sa.String(length=200), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('category', sa.String(length=50), nullable=True),
    sa.Column('path', sa.Text(), nullable=False),
    sa.Column('tagmanifest_sha512', sa.String(length=128), nullable=False),
    sa.Column('previous_id', sa.String(length=200), nullable=True),
    sa.Column('timestamped', sa.Boolean(), nullable=False),
    sa.Column('files', sa.Integer(), nullable=False),
    sa.Column('bytes', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['crawl_runs.id'], name=op.f('fk_packages_run_id_crawl_runs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_packages'))
    )
    op.create_index('ix_packages_source', 'packages', ['source_kind', 'source_name', 'created_at'], unique=False)
    op.create_index(op.f('ix_packages_run_id'), 'packages', ['run_id'], unique=False)
    op.create_table('selectielijst_categories',
    sa.Column('code', sa.String(length=50), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('waardering', sa.String(length=1), nullable=False),
    sa.Column('bewaartermijn', sa.String(length=40), nullable=True),
    sa.Column('trigger', sa.Text(), nullable=False),
    sa.Column('list_name', sa.Text(), nullable=False),
    sa.Column('loaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_selectielijst_categories'))
    )


def downgrade() -> None:
    op.drop_table('selectielijst_categories')
    op.drop_index(op.f('ix_packages_run_id'), table_name='packages')
    op.drop_index('ix_packages_source', table_name='packages')
    op.drop_table('packages')
