"""Visual models, their training sources (asset, hash, grant) and artists' prompt rules.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('artist_prompt_rules',
    sa.Column('artist_id', sa.Integer(), nullable=False),
    sa.Column('blocked_words', sa.Text(), nullable=False),
    sa.Column('updated_by', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['artist_id'], ['artists.id'], name=op.f('fk_artist_prompt_rules_artist_id_artists')),
    sa.ForeignKeyConstraint(['updated_by'], ['users.id'], name=op.f('fk_artist_prompt_rules_updated_by_users')),
    sa.PrimaryKeyConstraint('artist_id', name=op.f('pk_artist_prompt_rules'))
    )
    op.create_table('visual_models',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('artist_id', sa.Integer(), nullable=False),
    sa.Column('album_id', sa.Integer(), nullable=False),
    sa.Column('base', sa.Enum('builtin', 'lora', name='visualbase', native_enum=False, length=16), nullable=False),
    sa.Column('preset', sa.String(length=32), nullable=False),
    sa.Column('status', sa.Enum('training', 'failed', 'awaiting_approval', 'live', 'rejected', 'withdrawn', name='visualmodelstatus', native_enum=False, length=32), nullable=False),
    sa.Column('seed', sa.Integer(), nullable=False),
    sa.Column('steps_total', sa.Integer(), nullable=False),
    sa.Column('steps_done', sa.Integer(), nullable=False),
    sa.Column('loss', sa.Float(), nullable=True),
    sa.Column('manifest_hash', sa.String(length=64), nullable=True),
    sa.Column('error', sa.Text(), nullable=False),
    sa.Column('rejection_reason', sa.Text(), nullable=False),
    sa.Column('withdrawal_reason', sa.Text(), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('reviewed_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['album_id'], ['albums.id'], name=op.f('fk_visual_models_album_id_albums')),
    sa.ForeignKeyConstraint(['artist_id'], ['artists.id'], name=op.f('fk_visual_models_artist_id_artists')),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_visual_models_created_by_users')),
    sa.ForeignKeyConstraint(['reviewed_by'], ['users.id'], name=op.f('fk_visual_models_reviewed_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_visual_models'))
    )
    with op.batch_alter_table('visual_models', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_visual_models_album_id'), ['album_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_visual_models_artist_id'), ['artist_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_visual_models_status'), ['status'], unique=False)

    op.create_table('visual_model_sources',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('model_id', sa.Integer(), nullable=False),
    sa.Column('asset_id', sa.Integer(), nullable=False),
    sa.Column('grant_id', sa.Integer(), nullable=False),
    sa.Column('asset_sha256', sa.String(length=64), nullable=False),
    sa.Column('caption', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['asset_id'], ['assets.id'], name=op.f('fk_visual_model_sources_asset_id_assets')),
    sa.ForeignKeyConstraint(['grant_id'], ['consent_grants.id'], name=op.f('fk_visual_model_sources_grant_id_consent_grants')),
    sa.ForeignKeyConstraint(['model_id'], ['visual_models.id'], name=op.f('fk_visual_model_sources_model_id_visual_models')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_visual_model_sources')),
    sa.UniqueConstraint('model_id', 'asset_id', name=op.f('uq_visual_model_sources_model_id_asset_id'))
    )
    with op.batch_alter_table('visual_model_sources', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_visual_model_sources_grant_id'), ['grant_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_visual_model_sources_model_id'), ['model_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('visual_model_sources', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_visual_model_sources_model_id'))
        batch_op.drop_index(batch_op.f('ix_visual_model_sources_grant_id'))

    op.drop_table('visual_model_sources')
    with op.batch_alter_table('visual_models', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_visual_models_status'))
        batch_op.drop_index(batch_op.f('ix_visual_models_artist_id'))
        batch_op.drop_index(batch_op.f('ix_visual_models_album_id'))

    op.drop_table('visual_models')
    op.drop_table('artist_prompt_rules')
