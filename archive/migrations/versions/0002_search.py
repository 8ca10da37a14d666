"""search: the full-text index (documents; FTS5 on SQLite, tsvector + GIN on PostgreSQL)

Revision ID: 0002_search
Revises: 0002_package (its own branch 'search', on the package branch: documents are kept
and removed by package)
"""
import sqlalchemy as sa
from alembic import op

revision = '0002_search'
down_revision = '0002_package'
branch_labels = ('search',)
depends_on = None


def upgrade() -> None:
    op.create_table(
        'search_docs',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
                  autoincrement=False, nullable=False),
        sa.Column('kind', sa.String(length=10), nullable=False),
        sa.Column('source', sa.String(length=200), nullable=False),
        sa.Column('package_id', sa.String(length=200), nullable=True),
        sa.Column('run_id', sa.Integer(), nullable=True),
        sa.Column('last_run_id', sa.Integer(), nullable=True),
        sa.Column('title', sa.Text(), nullable=False),
        sa.Column('url', sa.Text(), nullable=True),
        sa.Column('surt', sa.Text(), nullable=True),
        sa.Column('sender', sa.String(length=300), nullable=True),
        sa.Column('room_id', sa.String(length=300), nullable=True),
        sa.Column('locator', sa.Text(), nullable=True),
        sa.Column('digest', sa.String(length=100), nullable=True),
        sa.Column('mime', sa.String(length=100), nullable=True),
        sa.Column('first_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('body', sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_search_docs')),
    )
    op.create_index('ix_search_docs_version', 'search_docs', ['source', 'digest'], unique=False)
    op.create_index(op.f('ix_search_docs_package_id'), 'search_docs', ['package_id'],
                    unique=False)
    op.create_index(op.f('ix_search_docs_run_id'), 'search_docs', ['run_id'], unique=False)
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("ALTER TABLE search_docs ADD COLUMN tsv tsvector NOT NULL DEFAULT ''")
        op.execute("CREATE INDEX ix_search_docs_tsv ON search_docs USING gin (tsv)")
    else:
        # Diacritics folded by the tokenizer; ``stems`` holds the Dutch stems of title and
        # body (search.text), ``title`` and ``body`` the words themselves (prefix queries and
        # snippets).
        op.execute("CREATE VIRTUAL TABLE search_fts USING fts5(title, body, stems, "
                   "tokenize = 'unicode61 remove_diacritics 2', columnsize = 0)")


def downgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        op.execute("DROP TABLE IF EXISTS search_fts")
    op.drop_index(op.f('ix_search_docs_run_id'), table_name='search_docs')
    op.drop_index(op.f('ix_search_docs_package_id'), table_name='search_docs')
    op.drop_index('ix_search_docs_version', table_name='search_docs')
    op.drop_table('search_docs')
