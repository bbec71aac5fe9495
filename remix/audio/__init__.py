"""The audio remix engine: stems to licensed excerpts.

``spec`` (the edit list) → ``service.render_excerpt`` (licence + consent checks) → ``decode`` (cached float32
stems) → ``engine.render`` (mix, tempo/key, filter, limiter, loops, fades) → ``encode`` (WAV/MP3/Opus bytes).
``licence.has_entitlement`` is the hook commerce implements for paid extended versions.
"""
