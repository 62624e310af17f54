//! Files in and out: `.npy` and CSV matrices, model files, SVG plots (SPEC §5–§6). (not built yet)
