"""The CNN spaces: the ``mlp_psd`` pulses for Conv1D students (``cnn_psd``) and
scikit-learn's 8x8 digits for Conv2D students (``cnn_digits``), the two kinds of network the
replaced workflow compresses besides MLPs (waveforms and images).

Neither searches max pooling (``pool`` stays 1): fully parallel, a pooled convolution still
computes every position and adds the comparisons, where a stride computes fewer positions.
Measured with ``pool`` searched (1-2 on the digits, 1-3 on the pulses; ``bench_cnn.py``, seed
0): the digits' only front design at >= 97 % test accuracy was pooled and took 22,956 LUT
(97.8 %) against 12,677 LUT (97.5 %) for the strided design of the search without pooling;
the pulses' front chose no pooling.

``cnn_psd`` learns its bit widths per weight in training (``precision: learned``), as the MLP
spaces do; ``cnn_digits`` searches them per layer. Decided on the tuning seed 0 (``nas run
--seed 0 --trials 50``, every front design synthesized bit-exact): on the pulses, learned
students were 0.18 / 0.31 / 0.17x the LUTs of searched ones at >= 97.0 / 97.5 / 98.0 %
validation accuracy (1,684 LUT at 97.3 %, 2,866 at 98.4 %, against 9,227 at 98.0 %); on the
digits, learned students after 62 of 100 trials needed 20,863 LUT-eq for 96.0 % validation
where the searched front has 12,677 LUT at 96.7 %."""

from dataclasses import replace

from nas.spaces.digits import SPACE as DIGITS
from nas.spaces.mlp_psd import SPACE as MLP_PSD
from nas.spaces.space import Space, StudentRanges

CNN_PSD: Space = replace(
    MLP_PSD,
    name="cnn_psd",
    description=MLP_PSD.description + "; Conv1D students over the 30 samples",
    input_shape=(MLP_PSD.n_inputs, 1),
    student=StudentRanges(family="cnn", precision="learned", conv_layers=(1, 2),
                          filters=(2, 8), kernel=(3, 7), stride=(1, 3), max_hidden_layers=1,
                          width=(4, 32)),
)

CNN_DIGITS: Space = replace(
    DIGITS,
    name="cnn_digits",
    description=DIGITS.description + "; Conv2D students over the 8x8 image",
    input_shape=(8, 8, 1),
    # Bits from 3 to 8: in 100 trials over 2-12 bits the search found no student within 2
    # points of the teacher on the 359 validation images, which 5-8-bit students reach.
    student=replace(DIGITS.student, family="cnn", precision="searched", conv_layers=(1, 2),
                    filters=(4, 16), kernel=(2, 3), stride=(1, 2), max_hidden_layers=1,
                    width=(8, 32), weight_bits=(3, 8), act_bits=(3, 8), input_bits=(3, 6)),
    part_name="xc7z020",
)
