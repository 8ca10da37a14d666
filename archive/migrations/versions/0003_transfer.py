"""transfer: SIP exports for the e-Depot and the packages each holds

Revision ID: 0003_transfer
Revises: 0002_records (its own branch 'transfer', on the records branch: a transfer ends a
package's retention)
"""
import sqlalchemy as sa
from alembic import op

revision = '0003_transfer'
down_revision = '0002_records'
branch_labels = ('transfer',)
depends_on = None


def upgrade() -> None:
    op.create_table(
        'sip_exports',
        sa.Column('id', sa.String(length=100), nullable=False),
        sa.Column('title', sa.Text(), nullable=False),
        sa.Column('state', sa.String(length=20), nullable=False),
        sa.Column('path', sa.Text(), nullable=False),
        sa.Column('tar_path', sa.Text(), nullable=True),
        sa.Column('parent', sa.Text(), nullable=True),
        sa.Column('objects', sa.Integer(), nullable=False),
        sa.Column('files', sa.Integer(), nullable=False),
        sa.Column('bytes', sa.BigInteger(), nullable=False),
        sa.Column('sip_hash', sa.String(length=200), nullable=False),
        sa.Column('created_by', sa.String(length=200), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('confirmed_by', sa.String(length=200), nullable=True),
        sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_sip_exports')),
    )
    op.create_index(op.f('ix_sip_exports_state'), 'sip_exports', ['state'], unique=False)
    op.create_table(
        'sip_export_packages',
        sa.Column('sip_id', sa.String(length=100), nullable=False),
        sa.Column('package_id', sa.String(length=200), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('folder', sa.Text(), nullable=False),
        sa.Column('validation', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['package_id'], ['packages.id'],
                                name=op.f('fk_sip_export_packages_package_id_packages')),
        sa.ForeignKeyConstraint(['sip_id'], ['sip_exports.id'],
                                name=op.f('fk_sip_export_packages_sip_id_sip_exports')),
        sa.PrimaryKeyConstraint('sip_id', 'package_id', name=op.f('pk_sip_export_packages')),
    )
    op.create_index(op.f('ix_sip_export_packages_package_id'), 'sip_export_packages',
                    ['package_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_sip_export_packages_package_id'), table_name='sip_export_packages')
    op.drop_table('sip_export_packages')
    op.drop_index(op.f('ix_sip_exports_state'), table_name='sip_exports')
    op.drop_table('sip_exports')
