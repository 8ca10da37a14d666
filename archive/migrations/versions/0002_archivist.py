"""archivist: metadata suggestions per package and the decisions on them

Revision ID: 0002_archivist
Revises: 0002_package (its own branch 'archivist', on the package branch: suggestions refer
to packages)
"""
import sqlalchemy as sa
from alembic import op

revision = '0002_archivist'
down_revision = '0002_package'
branch_labels = ('archivist',)
depends_on = None


def upgrade() -> None:
    op.create_table(
        'suggestions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('package_id', sa.String(length=200), nullable=False),
        sa.Column('field', sa.String(length=40), nullable=False),
        sa.Column('value', sa.Text(), nullable=False),
        sa.Column('confidence', sa.Float(), nullable=False),
        sa.Column('evidence', sa.JSON(), nullable=False),
        sa.Column('occurrences', sa.Integer(), nullable=False),
        sa.Column('model', sa.String(length=100), nullable=False),
        sa.Column('state', sa.String(length=10), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('decided_by', sa.String(length=200), nullable=True),
        sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.Column('applied_package', sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(['package_id'], ['packages.id'],
                                name=op.f('fk_suggestions_package_id_packages')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_suggestions')),
        sqlite_autoincrement=True,  # ids are never reused (a person refers to them)
    )
    op.create_index('ix_suggestions_package_field', 'suggestions', ['package_id', 'field'],
                    unique=False)
    op.create_index(op.f('ix_suggestions_state'), 'suggestions', ['state'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_suggestions_state'), table_name='suggestions')
    op.drop_index('ix_suggestions_package_field', table_name='suggestions')
    op.drop_table('suggestions')
