"""Catalog HTTP API: artists, albums, tracks, artwork and stem uploads, consent grants."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import FileResponse

from remix.auth.deps import AdminUser, ArtistUser, CurrentUser, ensure_acts_for
from remix.auth.models import Role
from remix.catalog import repository, service
from remix.catalog.consent import check_use, require_use
from remix.catalog.models import Album, Artist, Asset, AssetKind, ConsentGrant, Scope, Track
from remix.catalog.schemas import (
    AlbumDetail,
    AlbumIn,
    AlbumOut,
    ArtistIn,
    ArtistOut,
    AssetOut,
    ConsentCheckOut,
    GrantIn,
    GrantOut,
    RevokeIn,
    TrackDetail,
    TrackIn,
    TrackOut,
)
from remix.catalog.storage import AssetStore
from remix.db import SessionDep
from remix.errors import (
    BadRequest,
    Conflict,
    ConsentNotGranted,
    Forbidden,
    InvalidMedia,
    NotFound,
    PayloadTooLarge,
    Unauthorized,
    UnsupportedMedia,
    error_responses,
)

router = APIRouter(prefix="/api", tags=["catalog"])
consent_router = APIRouter(prefix="/api/consent", tags=["consent"])

READ_ERRORS = error_responses(Unauthorized, NotFound)
WRITE_ERRORS = error_responses(Unauthorized, Forbidden, NotFound, Conflict, BadRequest)
UPLOAD_ERRORS = error_responses(Unauthorized, Forbidden, NotFound, Conflict, BadRequest, PayloadTooLarge,
                                UnsupportedMedia, InvalidMedia)


@router.get("/artists", response_model=list[ArtistOut], responses=READ_ERRORS)
def list_artists(session: SessionDep, _: CurrentUser) -> list[Artist]:
    """Every artist in the catalog."""
    return list(repository.list_artists(session))


@router.post("/artists", response_model=ArtistOut, status_code=201, responses=WRITE_ERRORS)
def create_artist(body: ArtistIn, session: SessionDep, admin: AdminUser) -> Artist:
    """Admin only: add an artist (then attach their accounts with POST /api/auth/users)."""
    return service.create_artist(session, admin, body.name, body.bio)


@router.get("/albums", response_model=list[AlbumOut], responses=READ_ERRORS)
def list_albums(session: SessionDep, _: CurrentUser, artist_id: int | None = None) -> list[Album]:
    """Albums, optionally of one artist."""
    return list(repository.list_albums(session, artist_id))


@router.post("/artists/{artist_id}/albums", response_model=AlbumOut, status_code=201, responses=WRITE_ERRORS)
def create_album(artist_id: int, body: AlbumIn, session: SessionDep, user: ArtistUser) -> Album:
    """Add an album to one of your artists."""
    return service.create_album(session, user, artist_id, body.title, body.year)


@router.get("/albums/{album_id}", response_model=AlbumDetail, responses=READ_ERRORS)
def get_album(album_id: int, session: SessionDep, _: CurrentUser) -> AlbumDetail:
    """An album with its artist, tracks and artwork."""
    album = repository.get_or_404(session, Album, album_id)
    return AlbumDetail(
        id=album.id, artist_id=album.artist_id, title=album.title, year=album.year,
        artist=ArtistOut.model_validate(album.artist),
        tracks=[TrackOut.model_validate(t) for t in album.tracks],
        artwork=[AssetOut.model_validate(a) for a in repository.album_artwork(session, album.id)],
    )


@router.post("/albums/{album_id}/tracks", response_model=TrackOut, status_code=201, responses=WRITE_ERRORS)
def create_track(album_id: int, body: TrackIn, session: SessionDep, user: ArtistUser) -> Track:
    """Add a track to one of your albums."""
    return service.create_track(session, user, album_id, body.title, body.position, body.bpm, body.musical_key)


@router.get("/tracks/{track_id}", response_model=TrackDetail, responses=READ_ERRORS)
def get_track(track_id: int, session: SessionDep, _: CurrentUser) -> TrackDetail:
    """A track with the facts of its stems (the stem audio itself never leaves the server for fans)."""
    track = repository.get_or_404(session, Track, track_id)
    return TrackDetail(**TrackOut.model_validate(track).model_dump(),
                       stems=[AssetOut.model_validate(s) for s in track.stems])


@router.post("/albums/{album_id}/artwork", response_model=AssetOut, status_code=201, responses=UPLOAD_ERRORS)
def upload_artwork(
    album_id: int,
    request: Request,
    session: SessionDep,
    user: ArtistUser,
    file: Annotated[UploadFile, File(description="PNG, JPEG or WebP image")],
    title: Annotated[str, Form(max_length=300)] = "",
    caption: Annotated[str, Form(max_length=2000, description="Tags/caption used when training")] = "",
) -> Asset:
    """Upload album artwork. The image is decoded whole; fakes, truncated and oversized files are refused."""
    upload = service.Upload(file.file, file.filename or "", file.content_type)
    return service.upload_artwork(session, request.app.state.settings, user, album_id, upload, title, caption)


@router.post("/tracks/{track_id}/stems", response_model=AssetOut, status_code=201, responses=UPLOAD_ERRORS)
def upload_stem(
    track_id: int,
    request: Request,
    session: SessionDep,
    user: ArtistUser,
    file: Annotated[UploadFile, File(description="Lossless WAV or FLAC stem")],
    stem_name: Annotated[str, Form(description="e.g. drums, bass, vocals, other")],
) -> Asset:
    """Upload one stem of a track. The audio is decoded whole; fakes, truncated and oversized files are refused."""
    upload = service.Upload(file.file, file.filename or "", file.content_type)
    return service.upload_stem(session, request.app.state.settings, user, track_id, upload, stem_name)


@router.get("/assets/{asset_id}", response_model=AssetOut, responses=READ_ERRORS)
def get_asset(asset_id: int, session: SessionDep, _: CurrentUser) -> Asset:
    """An asset's recorded facts (hash, size, dimensions or sample rate and length)."""
    return repository.get_or_404(session, Asset, asset_id)


@router.get("/assets/{asset_id}/file", response_class=FileResponse,
            responses=error_responses(Unauthorized, Forbidden, NotFound, ConsentNotGranted))
def get_asset_file(asset_id: int, request: Request, session: SessionDep, user: CurrentUser) -> FileResponse:
    """The asset's bytes. Its artist's accounts and admins always; others only artwork shown as cover art
    while a live ``remix_preview`` grant covers it. Stems are never served to fans."""
    asset = repository.get_or_404(session, Asset, asset_id)
    owner = user.role == Role.admin or asset.artist_id in user.artist_ids
    if not owner:
        if asset.kind != AssetKind.artwork:
            raise Forbidden("stems are only available to their artist; fans hear them through remixes")
        require_use(session, Scope.remix_preview, [asset.id])
    path = AssetStore(request.app.state.settings.asset_dir).path_for(asset.storage_key)
    # A browser may keep a file with a Last-Modified date and no Cache-Control for a tenth of its age (days, for
    # artwork uploaded months ago) and show it without asking: revoked artwork would stay on the fan's screen.
    # no-cache makes it ask every time (a 304 when still allowed), so the consent check above always runs.
    return FileResponse(path, media_type=asset.media_type, filename=asset.original_filename,
                        headers={"Cache-Control": "private, no-cache"})


def _grant_out(grant: ConsentGrant) -> GrantOut:
    return GrantOut.model_validate(service.describe_grant(grant))


@consent_router.post("/grants", response_model=GrantOut, status_code=201, responses=WRITE_ERRORS)
def grant_consent(body: GrantIn, session: SessionDep, user: ArtistUser) -> GrantOut:
    """Grant one named use (scope) of an asset or a whole album, optionally until ``expires_at``."""
    grant = service.grant_consent(session, user, body.scope, asset_id=body.asset_id, album_id=body.album_id,
                                  expires_at=body.expires_at, terms=body.terms)
    return _grant_out(grant)


@consent_router.post("/grants/{grant_id}/revoke", response_model=GrantOut, responses=WRITE_ERRORS)
def revoke_consent(grant_id: int, body: RevokeIn, session: SessionDep, user: ArtistUser) -> GrantOut:
    """Revoke a grant. It stops covering any use at once; the revocation is recorded, the grant kept."""
    return _grant_out(service.revoke_consent(session, user, grant_id, body.reason))


@consent_router.get("/grants", response_model=list[GrantOut], responses=READ_ERRORS)
def list_grants(session: SessionDep, user: ArtistUser, album_id: int | None = None) -> list[GrantOut]:
    """Grants of your artists (admins: all), optionally only those touching one album."""
    if album_id is not None:
        album = repository.get_or_404(session, Album, album_id)
        ensure_acts_for(user, album.artist_id)
        grants = repository.grants_for_album(session, album_id)
    else:
        grants = repository.grants_for_artist(session, None if user.role == Role.admin else user.artist_ids)
    return [_grant_out(g) for g in grants]


@consent_router.get("/check", response_model=ConsentCheckOut, responses=READ_ERRORS)
def check_consent(
    session: SessionDep,
    user: CurrentUser,
    scope: Scope,
    asset_ids: Annotated[list[int], Query(min_length=1, max_length=200)],
    at: datetime | None = None,
) -> ConsentCheckOut:
    """Is ``scope`` allowed for all of ``asset_ids`` now (or at ``at``)? Names the grant covering each."""
    if at is not None and at.tzinfo is None:
        raise BadRequest("at needs a timezone, e.g. 2027-01-01T00:00:00Z")
    decision = check_use(session, scope, asset_ids, at=at)
    return ConsentCheckOut(scope=scope, at=decision.at, allowed=decision.allowed,
                           grant_for_asset=decision.grant_for_asset, uncovered=list(decision.uncovered))
