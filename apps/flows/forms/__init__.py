"""Forms of the flow builder and the CMS pages, one module per page family.

Forms parse and normalise: a step form's `build_step()` returns the step dict in Rasa's shape,
a condition editor returns condition text. Repeated rows (branches, rejections, set-slot pairs,
trigger intents, buttons, slot mappings) arrive as parallel lists of values and are read here,
never in views.
"""
