"""Loads the demo album into the database through the same services (and upload checks) artists use."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from remix.auth import repository as users
from remix.auth import service as accounts
from remix.auth.models import Role, User
from remix.catalog import repository as catalog
from remix.catalog import service
from remix.catalog.models import Album, Scope
from remix.commerce import orders, splits
from remix.commerce import repository as commerce
from remix.commerce.models import PayeeRole
from remix.config import Settings
from remix.demo.media import DemoAlbumMedia
from remix.errors import RemixError
from remix.visuals import service as visuals


@dataclass(frozen=True)
class DemoAccount:
    email: str
    password: str
    role: Role
    display_name: str


# Demo-only credentials, printed at start; `remix demo` refuses to run in production.
DEMO_ACCOUNTS = (
    DemoAccount("fan@remix.test", "fan-demo-password", Role.fan, "Fiona Fan"),
    DemoAccount("artist@remix.test", "artist-demo-password", Role.artist, "Leipzig Consort (manager)"),
    DemoAccount("finance@remix.test", "finance-demo-password", Role.finance, "Frank Finance"),
    DemoAccount("admin@remix.test", "admin-demo-password", Role.admin, "Ada Admin"),
)


# The demo's visual model, trained by `remix train` on the demo artwork and shipped with its manifest.
DEMO_VISUAL_MODEL_DIR = Path(__file__).resolve().parents[2] / "models" / "demo-artwork-v1"


# Who is paid when a fan buys a long version of a demo track, in basis points (10 000 = 100 %).
# The chorales are Bach's own four-part settings (music21's corpus, from the Breitkopf edition), long in the
# public domain: there is no living songwriter, arranger or publisher to pay, so the split has no songwriter
# line and the performers (the artist), their label and the platform share the whole price.
DEMO_LABEL_PAYEE = "Consort Classics (label)"
DEMO_PLATFORM_PAYEE = "Remix (platform)"
DEMO_SPLIT = ((PayeeRole.artist, 6000), (PayeeRole.label, 2500), (PayeeRole.platform, 1500))
DEMO_SPLIT_NOTE = "Demo split: the chorales are Bach's and in the public domain, so no songwriter share."
# The product the fan studio's "Buy long version" sells, and its demo price.
DEMO_PRODUCT = "full_length"
DEMO_PRICE_MINOR, DEMO_CURRENCY = 499, "EUR"
DEMO_LICENCE_TERMS = "Personal, non-commercial use of this remix of a public-domain chorale, performed by {artist}."


@dataclass(frozen=True)
class SeededDemo:
    album_id: int
    created: bool
    visual_model: str = "not loaded"
    tracks_for_sale: int = 0


def _account(session: Session, spec: DemoAccount, artist_ids: list[int], actor: int | None) -> User:
    existing = users.user_by_email(session, spec.email)
    if existing is not None:
        return existing
    return accounts.create_user(session, email=spec.email, display_name=spec.display_name, password=spec.password,
                                role=spec.role, artist_ids=artist_ids, actor_user_id=actor)


def seed_demo(session: Session, settings: Settings, media: DemoAlbumMedia) -> SeededDemo:
    """Create demo accounts, the artist, album, tracks, stems, artwork and all four grants (idempotent)."""
    admin = _account(session, DEMO_ACCOUNTS[3], [], None)
    existing = catalog.artist_by_name(session, media.artist_name)
    if existing is not None:
        album_id = catalog.list_albums(session, existing.id)[0].id
        _fan, manager, finance = (_account(session, spec, [existing.id] if spec.role == Role.artist else [], admin.id)
                                 for spec in DEMO_ACCOUNTS[:3])
        # A database seeded before the demo sold anything gets its payees, split sheets and prices now.
        for_sale = seed_demo_sales(session, manager, finance, existing.id, existing.name, album_id)
        return SeededDemo(album_id=album_id, created=False, tracks_for_sale=for_sale)

    artist = service.create_artist(session, admin, media.artist_name,
                                   "A fictional ensemble performing public-domain Bach chorales.")
    manager = _account(session, DEMO_ACCOUNTS[1], [artist.id], admin.id)
    _account(session, DEMO_ACCOUNTS[0], [], admin.id)
    finance = _account(session, DEMO_ACCOUNTS[2], [], admin.id)
    album = service.create_album(session, manager, artist.id, media.album_title, media.year)
    for art in media.artwork:
        with art.path.open("rb") as stream:
            upload = service.Upload(stream=stream, filename=art.path.name, content_type=None)
            service.upload_artwork(session, settings, manager, album.id, upload, art.title, art.caption)
    for demo_track in media.tracks:
        track = service.create_track(session, manager, album.id, demo_track.title, demo_track.position,
                                     demo_track.bpm, demo_track.musical_key)
        for stem in demo_track.stems:
            with stem.path.open("rb") as stream:
                upload = service.Upload(stream=stream, filename=stem.path.name, content_type=None)
                service.upload_stem(session, settings, manager, track.id, upload, stem.name)
    for scope in Scope:
        service.grant_consent(session, manager, scope, asset_id=None, album_id=album.id, expires_at=None,
                              terms="Demo album: all uses granted by the artist's manager.")
    visual_model = _load_demo_visual_model(session, settings, manager, album.id)
    for_sale = seed_demo_sales(session, manager, finance, artist.id, artist.name, album.id)
    return SeededDemo(album_id=album.id, created=True, visual_model=visual_model, tracks_for_sale=for_sale)


def seed_demo_sales(session: Session, manager: User, finance: User, artist_id: int, artist_name: str,
                    album_id: int) -> int:
    """Put every demo track on sale the way the label's people would, through the same services as the API:
    finance registers the payees and proposes each track's split sheet, the artist's manager accepts it,
    finance approves it, and finance prices the long version. Returns how many tracks are on sale.

    Idempotent without overriding anyone: a payee is found by name, a track that already has a split sheet
    version (approved, or accepted/rejected by someone trying the demo) keeps it, and a priced product keeps
    its price.
    """
    payee_ids = {
        PayeeRole.artist: _payee(session, finance, artist_name, artist_id),
        PayeeRole.label: _payee(session, finance, DEMO_LABEL_PAYEE, None),
        PayeeRole.platform: _payee(session, finance, DEMO_PLATFORM_PAYEE, None),
    }
    for_sale = 0
    for track in catalog.get_or_404(session, Album, album_id).tracks:
        if commerce.latest_split_version(session, track.id) == 0:
            lines = [splits.SplitLineIn(payee_ids[role], role, basis_points) for role, basis_points in DEMO_SPLIT]
            sheet = splits.propose_split_sheet(session, finance, track.id, lines, DEMO_SPLIT_NOTE)
            splits.accept_split_sheet(session, manager, sheet.id)
            splits.approve_split_sheet(session, finance, sheet.id)
        if commerce.product_for_track(session, track.id, DEMO_PRODUCT) is None:
            splits.set_product(session, finance, track.id, DEMO_PRODUCT, DEMO_PRICE_MINOR, DEMO_CURRENCY, None,
                               DEMO_LICENCE_TERMS.format(artist=artist_name), True)
        # On sale by the rule a fan's order is judged by (split sheet approved, selling consented).
        if any(offer.on_sale and offer.product.product == DEMO_PRODUCT
               for offer in orders.offers_for_track(session, track.id)):
            for_sale += 1
    return for_sale


def _payee(session: Session, finance: User, name: str, artist_id: int | None) -> int:
    existing = commerce.payee_by_name(session, name)
    if existing is not None:
        return existing.id
    return splits.create_payee(session, finance, name, artist_id, None).id


def _load_demo_visual_model(session: Session, settings: Settings, manager: User, album_id: int) -> str:
    """Register the shipped demo model and approve it as the artist would after seeing its samples.

    The import checks that the manifest's artwork hashes match this album's artwork under live
    ``train_visual`` grants; if they do not (e.g. another Pillow encoded the PNGs differently), the demo
    runs without visuals until ``remix train`` makes a model here.
    """
    if not (DEMO_VISUAL_MODEL_DIR / "manifest.json").exists():
        return "not shipped"
    try:
        model = visuals.import_trained_model(session, settings, manager, album_id, DEMO_VISUAL_MODEL_DIR)
        visuals.approve(session, manager, model.id)
    except RemixError as exc:
        return f"not loaded ({exc.detail}); run `remix train --album-id {album_id}`"
    return f"model {model.id} live (manifest {(model.manifest_hash or '')[:12]})"
