"""replay: collections, QA checks and pages, access rules, fixity checks

Revision ID: 0002_replay
Revises: 0001_core
"""
from alembic import op
import sqlalchemy as sa


revision = '0002_replay'
down_revision = '0001_core'
branch_labels = ('replay',)
depends_on = None

TABLES = ['qa_pages', 'qa_checks', 'collection_runs', 'fixity_checks', 'access_rules']


def upgrade() -> None:
    op.create_table('access_rules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('url_prefix', sa.Text(), nullable=False),
    sa.Column('access', sa.String(length=20), nullable=False),
    sa.Column('until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_access_rules')),
    sa.UniqueConstraint('url_prefix', name='uq_access_rules_url_prefix')
    )
    op.create_table('fixity_checks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('files', sa.Integer(), nullable=False),
    sa.Column('bytes', sa.Integer(), nullable=False),
    sa.Column('ok', sa.Boolean(), nullable=False),
    sa.Column('findings', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fixity_checks'))
    )
    op.create_table('collection_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('collection', sa.String(length=200), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('warcs', sa.Integer(), nullable=False),
    sa.Column('index_lines', sa.Integer(), nullable=False),
    sa.Column('added_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['crawl_runs.id'], name=op.f('fk_collection_runs_run_id_crawl_runs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_collection_runs')),
    sa.UniqueConstraint('run_id', name='uq_collection_runs_run_id')
    )
    op.create_index(op.f('ix_collection_runs_collection'), 'collection_runs', ['collection'], unique=False)
    op.create_table('qa_checks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('pages', sa.Integer(), nullable=False),
    sa.Column('failed', sa.Integer(), nullable=False),
    sa.Column('ok', sa.Boolean(), nullable=False),
    sa.Column('requisites', sa.Integer(), nullable=False),
    sa.Column('report_path', sa.Text(), nullable=True),
    sa.Column('stats', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['crawl_runs.id'], name=op.f('fk_qa_checks_run_id_crawl_runs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_qa_checks'))
    )
    op.create_index(op.f('ix_qa_checks_run_id'), 'qa_checks', ['run_id'], unique=False)
    op.create_table('qa_pages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('check_id', sa.Integer(), nullable=False),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('replay_url', sa.Text(), nullable=False),
    sa.Column('crawl_status', sa.Integer(), nullable=True),
    sa.Column('replay_status', sa.Integer(), nullable=True),
    sa.Column('ok', sa.Boolean(), nullable=False),
    sa.Column('missing', sa.JSON(), nullable=False),
    sa.Column('errors', sa.JSON(), nullable=False),
    sa.Column('status_diffs', sa.JSON(), nullable=False),
    sa.Column('requisites', sa.Integer(), nullable=False),
    sa.Column('similarity', sa.Double(), nullable=True),
    sa.Column('browser', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['check_id'], ['qa_checks.id'], name=op.f('fk_qa_pages_check_id_qa_checks')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_qa_pages'))
    )
    op.create_index(op.f('ix_qa_pages_check_id'), 'qa_pages', ['check_id'], unique=False)


def downgrade() -> None:
    for name in TABLES:
        op.drop_table(name)
