"""The bottom layer: what every app's services share, importing no app.

Layers point one way: core -> models -> policies -> services -> entry points
(views, API, admin, tasks, commands). See ARCHITECTURE.md.
"""
