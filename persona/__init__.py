"""Who tomo is: persona schema, presets, prompt, versions, tone check."""
