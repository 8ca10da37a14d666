"""woo: Woo requests, their documents, decisions and redactions

Revision ID: 0003_woo
Revises: 0002_search (no branch label: it chains on the search branch, whose documents a
request gathers)
"""
import sqlalchemy as sa
from alembic import op

revision = '0003_woo'
down_revision = '0002_search'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'woo_requests',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('title', sa.Text(), nullable=False),
        sa.Column('query', sa.Text(), nullable=False),
        sa.Column('filters', sa.JSON(), nullable=False),
        sa.Column('hold_ids', sa.JSON(), nullable=False),
        sa.Column('created_by', sa.String(length=200), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('exported_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('package_id', sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_woo_requests')),
    )
    op.create_table(
        'woo_documents',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('request_id', sa.Integer(), nullable=False),
        sa.Column('number', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=10), nullable=False),
        sa.Column('source', sa.String(length=200), nullable=False),
        sa.Column('package_id', sa.String(length=200), nullable=True),
        sa.Column('key', sa.Text(), nullable=False),
        sa.Column('title', sa.Text(), nullable=False),
        sa.Column('url', sa.Text(), nullable=True),
        sa.Column('room_id', sa.String(length=300), nullable=True),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('dropped', sa.Boolean(), nullable=False),
        sa.Column('decision', sa.String(length=10), nullable=True),
        sa.Column('grounds', sa.JSON(), nullable=False),
        sa.Column('decided_by', sa.String(length=200), nullable=True),
        sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['request_id'], ['woo_requests.id'],
                                name=op.f('fk_woo_documents_request_id_woo_requests')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_woo_documents')),
    )
    op.create_index('ix_woo_documents_request', 'woo_documents', ['request_id', 'number'],
                    unique=True)
    op.create_table(
        'woo_redactions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('request_id', sa.Integer(), nullable=False),
        sa.Column('document_id', sa.Integer(), nullable=True),
        sa.Column('phrase', sa.Text(), nullable=True),
        sa.Column('start', sa.Integer(), nullable=True),
        sa.Column('end', sa.Integer(), nullable=True),
        sa.Column('ground', sa.String(length=20), nullable=False),
        sa.Column('created_by', sa.String(length=200), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['document_id'], ['woo_documents.id'],
                                name=op.f('fk_woo_redactions_document_id_woo_documents')),
        sa.ForeignKeyConstraint(['request_id'], ['woo_requests.id'],
                                name=op.f('fk_woo_redactions_request_id_woo_requests')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_woo_redactions')),
    )
    op.create_index(op.f('ix_woo_redactions_request_id'), 'woo_redactions', ['request_id'],
                    unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_woo_redactions_request_id'), table_name='woo_redactions')
    op.drop_table('woo_redactions')
    op.drop_index('ix_woo_documents_request', table_name='woo_documents')
    op.drop_table('woo_documents')
    op.drop_table('woo_requests')
