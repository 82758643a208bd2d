"""Skills: the assistant acts (timers, reminders, the time, the camera, translation, lists).

``base`` holds the contract; the router (``router``) recognises a request and runs the
skill that owns it before ordinary chat.
"""
