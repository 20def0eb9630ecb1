// Fixture for the layer check (cmake/tests/check_layers.cmake): a gait source that includes a
// header of the render room above it. Never compiled.
#include "gait/gait_table.h"
#include "render/overlay.h"
