"""Live-session snapshots: saved RemixSpecs (and prompts) from fans' live sessions.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22
"""
import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('live_snapshots',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('track_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('spec_json', sa.Text(), nullable=False),
    sa.Column('spec_hash', sa.String(length=64), nullable=False),
    sa.Column('prompt', sa.Text(), nullable=False),
    sa.Column('visual_model_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['track_id'], ['tracks.id'], name=op.f('fk_live_snapshots_track_id_tracks')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_live_snapshots_user_id_users')),
    sa.ForeignKeyConstraint(['visual_model_id'], ['visual_models.id'],
                            name=op.f('fk_live_snapshots_visual_model_id_visual_models')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_live_snapshots'))
    )
    with op.batch_alter_table('live_snapshots', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_live_snapshots_spec_hash'), ['spec_hash'], unique=False)
        batch_op.create_index(batch_op.f('ix_live_snapshots_track_id'), ['track_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_live_snapshots_user_id'), ['user_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('live_snapshots', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_live_snapshots_user_id'))
        batch_op.drop_index(batch_op.f('ix_live_snapshots_track_id'))
        batch_op.drop_index(batch_op.f('ix_live_snapshots_spec_hash'))

    op.drop_table('live_snapshots')
