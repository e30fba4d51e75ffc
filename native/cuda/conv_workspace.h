// The bound on conv2d's im2col workspace (floats of column matrix per call; 2^26 = 256 MiB by
// default). native/tests lowers it so that small shapes take the chunked path a large layer takes.
#pragma once
#include <cstdint>

namespace ann::cuda {

int64_t conv_workspace_floats();
void set_conv_workspace_floats(int64_t floats);

}  // namespace ann::cuda
