"""records: destruction lists (proposed, reviewed, approved, rejected or cancelled) and items

Revision ID: 0003_destruction
Revises: 0002_records
"""
import sqlalchemy as sa
from alembic import op

revision = '0003_destruction'
down_revision = '0002_records'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'destruction_lists',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('state', sa.String(length=20), nullable=False),
        sa.Column('as_of', sa.Date(), nullable=False),
        sa.Column('proposed_by', sa.String(length=100), nullable=False),
        sa.Column('proposed_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('reviewed_by', sa.String(length=100), nullable=True),
        sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('review_reason', sa.Text(), nullable=True),
        sa.Column('approved_by', sa.String(length=100), nullable=True),
        sa.Column('approved_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('executable_from', sa.Date(), nullable=True),
        sa.Column('cancelled_by', sa.String(length=100), nullable=True),
        sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('cancel_reason', sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_destruction_lists')),
    )
    op.create_index(op.f('ix_destruction_lists_state'), 'destruction_lists', ['state'],
                    unique=False)
    op.create_table(
        'destruction_items',
        sa.Column('list_id', sa.Integer(), nullable=False),
        sa.Column('package_id', sa.String(length=200), nullable=False),
        sa.Column('category', sa.String(length=50), nullable=True),
        sa.Column('end_date', sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(['list_id'], ['destruction_lists.id'],
                                name=op.f('fk_destruction_items_list_id_destruction_lists')),
        sa.ForeignKeyConstraint(['package_id'], ['packages.id'],
                                name=op.f('fk_destruction_items_package_id_packages')),
        sa.PrimaryKeyConstraint('list_id', 'package_id', name=op.f('pk_destruction_items')),
    )
    op.create_index(op.f('ix_destruction_items_package_id'), 'destruction_items',
                    ['package_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_destruction_items_package_id'), table_name='destruction_items')
    op.drop_table('destruction_items')
    op.drop_index(op.f('ix_destruction_lists_state'), table_name='destruction_lists')
    op.drop_table('destruction_lists')
