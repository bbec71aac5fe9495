"""All visual-model SQL."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from remix.catalog.models import Artist
from remix.visuals.models import PromptRules, VisualModel, VisualModelSource, VisualModelStatus


def list_models(session: Session, *, album_id: int | None = None, artist_ids: Collection[int] | None = None,
                statuses: Sequence[VisualModelStatus] | None = None) -> Sequence[VisualModel]:
    query = select(VisualModel).order_by(VisualModel.id)
    if album_id is not None:
        query = query.where(VisualModel.album_id == album_id)
    if artist_ids is not None:
        query = query.where(VisualModel.artist_id.in_(artist_ids))
    if statuses is not None:
        query = query.where(VisualModel.status.in_(statuses))
    return session.execute(query).scalars().all()


def models_citing_grant(session: Session, grant_id: int) -> Sequence[VisualModel]:
    sub = select(VisualModelSource.model_id).where(VisualModelSource.grant_id == grant_id)
    return session.execute(select(VisualModel).where(VisualModel.id.in_(sub)).order_by(VisualModel.id)).scalars().all()


def training_model_for_album(session: Session, album_id: int) -> VisualModel | None:
    return session.execute(
        select(VisualModel).where(VisualModel.album_id == album_id,
                                  VisualModel.status == VisualModelStatus.training).limit(1)
    ).scalar_one_or_none()


def prompt_rules(session: Session, artist_id: int) -> PromptRules | None:
    return session.get(PromptRules, artist_id)


def artist_names(session: Session) -> Sequence[str]:
    return session.execute(select(Artist.name).order_by(Artist.id)).scalars().all()
