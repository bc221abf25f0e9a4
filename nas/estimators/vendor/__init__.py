"""The vendor HLS flow's estimator, one job per module: ``design`` (what a dense network is to
the estimator: layers, widths, weight statistics, part family, clock, tool), ``rules`` (what
hls4ml generates and what the HLS tool binds it to: DSP or fabric per product, reuse passes,
the adder tree), ``estimator`` (features with named coefficients, the estimator), ``fit``
(the robust fit of the coefficients), ``rows`` (calibration rows of reported designs) and
``extrapolation`` (where a design leaves the data a calibration was fitted on)."""
