"""Commerce: payees, split sheets, products, orders, entitlements, licences, provider events, royalty ledger.

Ledger transactions and entries, licences, split-sheet lines and period locks are append-only:
triggers refuse UPDATE and DELETE on them (like the audit log in 0001).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""
from alembic import op
import sqlalchemy as sa

from remix.migrations.append_only import create_append_only_triggers, drop_append_only_triggers


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


# Rows of these tables are facts: once written they are never changed or removed.
IMMUTABLE_TABLES = ("ledger_transactions", "ledger_entries", "licenses", "split_sheet_lines", "ledger_period_locks")


def upgrade() -> None:
    op.create_table('provider_events',
    sa.Column('id', sa.String(length=255), nullable=False),
    sa.Column('type', sa.String(length=100), nullable=False),
    sa.Column('payment_intent_id', sa.String(length=255), nullable=True),
    sa.Column('created', sa.BigInteger(), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('status', sa.Enum('processed', 'deferred', 'ignored', name='eventstatus', native_enum=False, length=16), nullable=False),
    sa.Column('note', sa.String(length=300), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('processed_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_provider_events'))
    )
    with op.batch_alter_table('provider_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_provider_events_payment_intent_id'), ['payment_intent_id'], unique=False)

    op.create_table('ledger_period_locks',
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('locked_by', sa.Integer(), nullable=False),
    sa.Column('locked_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['locked_by'], ['users.id'], name=op.f('fk_ledger_period_locks_locked_by_users')),
    sa.PrimaryKeyConstraint('period', name=op.f('pk_ledger_period_locks'))
    )
    op.create_table('payees',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('artist_id', sa.Integer(), nullable=True),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['artist_id'], ['artists.id'], name=op.f('fk_payees_artist_id_artists')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payees')),
    sa.UniqueConstraint('name', name=op.f('uq_payees_name'))
    )
    with op.batch_alter_table('payees', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payees_artist_id'), ['artist_id'], unique=False)

    op.create_table('ledger_accounts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=100), nullable=False),
    sa.Column('kind', sa.Enum('provider', 'clearing', 'payable', 'dispute_hold', name='accountkind', native_enum=False, length=16), nullable=False),
    sa.Column('payee_id', sa.Integer(), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.ForeignKeyConstraint(['payee_id'], ['payees.id'], name=op.f('fk_ledger_accounts_payee_id_payees')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_accounts')),
    sa.UniqueConstraint('code', name=op.f('uq_ledger_accounts_code'))
    )
    with op.batch_alter_table('ledger_accounts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ledger_accounts_payee_id'), ['payee_id'], unique=False)

    op.create_table('split_sheets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('track_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('proposed', 'accepted', 'approved', 'rejected', name='splitsheetstatus', native_enum=False, length=16), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('accepted_by', sa.Integer(), nullable=True),
    sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('approved_by', sa.Integer(), nullable=True),
    sa.Column('approved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['accepted_by'], ['users.id'], name=op.f('fk_split_sheets_accepted_by_users')),
    sa.ForeignKeyConstraint(['approved_by'], ['users.id'], name=op.f('fk_split_sheets_approved_by_users')),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_split_sheets_created_by_users')),
    sa.ForeignKeyConstraint(['track_id'], ['tracks.id'], name=op.f('fk_split_sheets_track_id_tracks')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_split_sheets')),
    sa.UniqueConstraint('track_id', 'version', name=op.f('uq_split_sheets_track_id_version'))
    )
    with op.batch_alter_table('split_sheets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_split_sheets_track_id'), ['track_id'], unique=False)

    op.create_table('track_products',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('track_id', sa.Integer(), nullable=False),
    sa.Column('product', sa.String(length=32), nullable=False),
    sa.Column('price_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('licence_days', sa.Integer(), nullable=True),
    sa.Column('terms', sa.Text(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('updated_by', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('price_minor > 0', name=op.f('ck_track_products_price_positive')),
    sa.ForeignKeyConstraint(['track_id'], ['tracks.id'], name=op.f('fk_track_products_track_id_tracks')),
    sa.ForeignKeyConstraint(['updated_by'], ['users.id'], name=op.f('fk_track_products_updated_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_track_products')),
    sa.UniqueConstraint('track_id', 'product', name=op.f('uq_track_products_track_id_product'))
    )
    with op.batch_alter_table('track_products', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_track_products_track_id'), ['track_id'], unique=False)

    op.create_table('orders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('track_id', sa.Integer(), nullable=False),
    sa.Column('product', sa.String(length=32), nullable=False),
    sa.Column('spec_json', sa.Text(), nullable=False),
    sa.Column('spec_hash', sa.String(length=64), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('split_sheet_id', sa.Integer(), nullable=False),
    sa.Column('licence_days', sa.Integer(), nullable=True),
    sa.Column('terms', sa.Text(), nullable=False),
    sa.Column('status', sa.Enum('pending', 'failed', 'paid', name='orderstatus', native_enum=False, length=16), nullable=False),
    sa.Column('payment_intent_id', sa.String(length=255), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('paid_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('needs_refund', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['split_sheet_id'], ['split_sheets.id'], name=op.f('fk_orders_split_sheet_id_split_sheets')),
    sa.ForeignKeyConstraint(['track_id'], ['tracks.id'], name=op.f('fk_orders_track_id_tracks')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_orders_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_orders')),
    sa.UniqueConstraint('payment_intent_id', name=op.f('uq_orders_payment_intent_id')),
    sa.UniqueConstraint('public_id', name=op.f('uq_orders_public_id'))
    )
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_orders_spec_hash'), ['spec_hash'], unique=False)
        batch_op.create_index(batch_op.f('ix_orders_track_id'), ['track_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_orders_user_id'), ['user_id'], unique=False)

    op.create_table('split_sheet_lines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('split_sheet_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('payee_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.Enum('artist', 'label', 'songwriter', 'producer', 'publisher', 'platform', name='payeerole', native_enum=False, length=16), nullable=False),
    sa.Column('basis_points', sa.Integer(), nullable=False),
    sa.CheckConstraint('basis_points > 0 AND basis_points <= 10000', name=op.f('ck_split_sheet_lines_basis_points_range')),
    sa.ForeignKeyConstraint(['payee_id'], ['payees.id'], name=op.f('fk_split_sheet_lines_payee_id_payees')),
    sa.ForeignKeyConstraint(['split_sheet_id'], ['split_sheets.id'], name=op.f('fk_split_sheet_lines_split_sheet_id_split_sheets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_split_sheet_lines')),
    sa.UniqueConstraint('split_sheet_id', 'payee_id', 'role', name=op.f('uq_split_sheet_lines_split_sheet_id_payee_id_role'))
    )
    with op.batch_alter_table('split_sheet_lines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_split_sheet_lines_split_sheet_id'), ['split_sheet_id'], unique=False)

    op.create_table('entitlements',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('track_id', sa.Integer(), nullable=False),
    sa.Column('spec_hash', sa.String(length=64), nullable=False),
    sa.Column('product', sa.String(length=32), nullable=False),
    sa.Column('status', sa.Enum('active', 'suspended', 'revoked', name='entitlementstatus', native_enum=False, length=16), nullable=False),
    sa.Column('granted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('valid_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_entitlements_order_id_orders')),
    sa.ForeignKeyConstraint(['track_id'], ['tracks.id'], name=op.f('fk_entitlements_track_id_tracks')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_entitlements_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_entitlements')),
    sa.UniqueConstraint('order_id', name=op.f('uq_entitlements_order_id'))
    )
    with op.batch_alter_table('entitlements', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_entitlements_spec_hash'), ['spec_hash'], unique=False)
        batch_op.create_index(batch_op.f('ix_entitlements_user_id'), ['user_id'], unique=False)

    op.create_table('ledger_transactions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source_key', sa.String(length=300), nullable=False),
    sa.Column('kind', sa.Enum('sale', 'refund', 'dispute_opened', 'dispute_won', 'dispute_lost', name='transactionkind', native_enum=False, length=16), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('split_sheet_id', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('provider_event_id', sa.String(length=255), nullable=True),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('posted_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_ledger_transactions_order_id_orders')),
    sa.ForeignKeyConstraint(['split_sheet_id'], ['split_sheets.id'], name=op.f('fk_ledger_transactions_split_sheet_id_split_sheets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_transactions')),
    sa.UniqueConstraint('source_key', name=op.f('uq_ledger_transactions_source_key'))
    )
    with op.batch_alter_table('ledger_transactions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ledger_transactions_order_id'), ['order_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ledger_transactions_period'), ['period'], unique=False)

    op.create_table('licenses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=40), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('track_id', sa.Integer(), nullable=False),
    sa.Column('spec_hash', sa.String(length=64), nullable=False),
    sa.Column('product', sa.String(length=32), nullable=False),
    sa.Column('split_sheet_id', sa.Integer(), nullable=False),
    sa.Column('consent_grant_ids', sa.Text(), nullable=False),
    sa.Column('terms', sa.Text(), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('valid_until', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_licenses_order_id_orders')),
    sa.ForeignKeyConstraint(['split_sheet_id'], ['split_sheets.id'], name=op.f('fk_licenses_split_sheet_id_split_sheets')),
    sa.ForeignKeyConstraint(['track_id'], ['tracks.id'], name=op.f('fk_licenses_track_id_tracks')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_licenses_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_licenses')),
    sa.UniqueConstraint('number', name=op.f('uq_licenses_number')),
    sa.UniqueConstraint('order_id', name=op.f('uq_licenses_order_id'))
    )
    op.create_table('ledger_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('transaction_id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['ledger_accounts.id'], name=op.f('fk_ledger_entries_account_id_ledger_accounts')),
    sa.ForeignKeyConstraint(['transaction_id'], ['ledger_transactions.id'], name=op.f('fk_ledger_entries_transaction_id_ledger_transactions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_entries'))
    )
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ledger_entries_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ledger_entries_transaction_id'), ['transaction_id'], unique=False)

    create_append_only_triggers(IMMUTABLE_TABLES)


def downgrade() -> None:
    drop_append_only_triggers(IMMUTABLE_TABLES)


    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ledger_entries_transaction_id'))
        batch_op.drop_index(batch_op.f('ix_ledger_entries_account_id'))

    op.drop_table('ledger_entries')
    op.drop_table('licenses')
    with op.batch_alter_table('ledger_transactions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ledger_transactions_period'))
        batch_op.drop_index(batch_op.f('ix_ledger_transactions_order_id'))

    op.drop_table('ledger_transactions')
    with op.batch_alter_table('entitlements', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_entitlements_user_id'))
        batch_op.drop_index(batch_op.f('ix_entitlements_spec_hash'))

    op.drop_table('entitlements')
    with op.batch_alter_table('split_sheet_lines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_split_sheet_lines_split_sheet_id'))

    op.drop_table('split_sheet_lines')
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_orders_user_id'))
        batch_op.drop_index(batch_op.f('ix_orders_track_id'))
        batch_op.drop_index(batch_op.f('ix_orders_spec_hash'))

    op.drop_table('orders')
    with op.batch_alter_table('track_products', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_track_products_track_id'))

    op.drop_table('track_products')
    with op.batch_alter_table('split_sheets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_split_sheets_track_id'))

    op.drop_table('split_sheets')
    with op.batch_alter_table('ledger_accounts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ledger_accounts_payee_id'))

    op.drop_table('ledger_accounts')
    with op.batch_alter_table('payees', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payees_artist_id'))

    op.drop_table('payees')
    op.drop_table('ledger_period_locks')
    with op.batch_alter_table('provider_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_provider_events_payment_intent_id'))

    op.drop_table('provider_events')
