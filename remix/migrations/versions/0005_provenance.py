"""Provenance: issued renders (what each watermark id points to) and catalog fingerprints.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('provenance_renders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=36), nullable=False),
    sa.Column('watermark_id', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.Enum('audio', 'image', name='renderkind', native_enum=False, length=16), nullable=False),
    sa.Column('purpose', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('track_id', sa.Integer(), nullable=True),
    sa.Column('album_id', sa.Integer(), nullable=True),
    sa.Column('spec_hash', sa.String(length=64), nullable=True),
    sa.Column('model_id', sa.Integer(), nullable=True),
    sa.Column('training_manifest_hash', sa.String(length=64), nullable=True),
    sa.Column('grant_ids_json', sa.Text(), nullable=False),
    sa.Column('licence_id', sa.Integer(), nullable=True),
    sa.Column('output_format', sa.String(length=16), nullable=False),
    sa.Column('output_sha256', sa.String(length=64), nullable=False),
    sa.Column('width', sa.Integer(), nullable=True),
    sa.Column('height', sa.Integer(), nullable=True),
    sa.Column('manifest_kind', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['album_id'], ['albums.id'], name=op.f('fk_provenance_renders_album_id_albums')),
    sa.ForeignKeyConstraint(['track_id'], ['tracks.id'], name=op.f('fk_provenance_renders_track_id_tracks')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_provenance_renders_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_provenance_renders')),
    sa.UniqueConstraint('public_id', name=op.f('uq_provenance_renders_public_id')),
    sa.UniqueConstraint('watermark_id', name=op.f('uq_provenance_renders_watermark_id'))
    )
    op.create_index(op.f('ix_provenance_renders_album_id'), 'provenance_renders', ['album_id'], unique=False)
    op.create_index(op.f('ix_provenance_renders_licence_id'), 'provenance_renders', ['licence_id'], unique=False)
    op.create_index(op.f('ix_provenance_renders_output_sha256'), 'provenance_renders', ['output_sha256'], unique=False)
    op.create_index(op.f('ix_provenance_renders_track_id'), 'provenance_renders', ['track_id'], unique=False)
    op.create_index(op.f('ix_provenance_renders_user_id'), 'provenance_renders', ['user_id'], unique=False)
    op.create_table('catalog_fingerprints',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('track_id', sa.Integer(), nullable=False),
    sa.Column('stems_digest', sa.String(length=64), nullable=False),
    sa.Column('duration_seconds', sa.Float(), nullable=False),
    sa.Column('fingerprint_json', sa.Text(), nullable=False),
    sa.Column('computed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['track_id'], ['tracks.id'], name=op.f('fk_catalog_fingerprints_track_id_tracks')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_catalog_fingerprints')),
    sa.UniqueConstraint('track_id', name=op.f('uq_catalog_fingerprints_track_id'))
    )


def downgrade() -> None:
    op.drop_table('catalog_fingerprints')
    op.drop_index(op.f('ix_provenance_renders_user_id'), table_name='provenance_renders')
    op.drop_index(op.f('ix_provenance_renders_track_id'), table_name='provenance_renders')
    op.drop_index(op.f('ix_provenance_renders_output_sha256'), table_name='provenance_renders')
    op.drop_index(op.f('ix_provenance_renders_licence_id'), table_name='provenance_renders')
    op.drop_index(op.f('ix_provenance_renders_album_id'), table_name='provenance_renders')
    op.drop_table('provenance_renders')
