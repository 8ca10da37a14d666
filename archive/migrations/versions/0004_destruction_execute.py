"""records: executing destruction lists (item states, who executed, the verklaring) and tombstones

Revision ID: 0004_destruction_execute
Revises: 0003_destruction
"""
import sqlalchemy as sa
from alembic import op

revision = '0004_destruction_execute'
down_revision = '0003_destruction'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('destruction_lists', schema=None) as batch_op:
        batch_op.add_column(sa.Column('executed_by', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('executed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('verklaring_id', sa.String(length=200), nullable=True))
    with op.batch_alter_table('destruction_items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('state', sa.String(length=20), nullable=True))
    op.create_table(
        'tombstones',
        sa.Column('package_id', sa.String(length=200), nullable=False),
        sa.Column('list_id', sa.Integer(), nullable=False),
        sa.Column('source_kind', sa.String(length=20), nullable=False),
        sa.Column('source_name', sa.String(length=200), nullable=False),
        sa.Column('run_id', sa.Integer(), nullable=True),
        sa.Column('title', sa.Text(), nullable=False),
        sa.Column('category', sa.String(length=50), nullable=True),
        sa.Column('waardering', sa.String(length=1), nullable=True),
        sa.Column('end_date', sa.Date(), nullable=True),
        sa.Column('period_start', sa.DateTime(timezone=True), nullable=True),
        sa.Column('period_end', sa.DateTime(timezone=True), nullable=True),
        sa.Column('files', sa.Integer(), nullable=False),
        sa.Column('bytes', sa.BigInteger(), nullable=False),
        sa.Column('tagmanifest_sha512', sa.String(length=128), nullable=False),
        sa.Column('deleted', sa.JSON(), nullable=False),
        sa.Column('proposed_by', sa.String(length=100), nullable=False),
        sa.Column('reviewed_by', sa.String(length=100), nullable=True),
        sa.Column('approved_by', sa.String(length=100), nullable=True),
        sa.Column('executed_by', sa.String(length=100), nullable=False),
        sa.Column('destroyed_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['list_id'], ['destruction_lists.id'],
                                name=op.f('fk_tombstones_list_id_destruction_lists')),
        sa.ForeignKeyConstraint(['package_id'], ['packages.id'],
                                name=op.f('fk_tombstones_package_id_packages')),
        sa.PrimaryKeyConstraint('package_id', name=op.f('pk_tombstones')),
    )
    op.create_index(op.f('ix_tombstones_list_id'), 'tombstones', ['list_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_tombstones_list_id'), table_name='tombstones')
    op.drop_table('tombstones')
    with op.batch_alter_table('destruction_items', schema=None) as batch_op:
        batch_op.drop_column('state')
    with op.batch_alter_table('destruction_lists', schema=None) as batch_op:
        batch_op.drop_column('verklaring_id')
        batch_op.drop_column('executed_at')
        batch_op.drop_column('executed_by')
