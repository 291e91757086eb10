// Ember: lazy arrays with composable function transformations.
#pragma once

#include "ember/allocator.h"
#include "ember/array.h"
#include "ember/device.h"
#include "ember/dispatch.h"
#include "ember/dtype.h"
#include "ember/graph_export.h"
#include "ember/io/io.h"
#include "ember/ops.h"
#include "ember/primitives.h"
#include "ember/random.h"
#include "ember/scheduler.h"
#include "ember/transforms.h"
#include "ember/compile.h"
#include "ember/version.h"
#include "ember/export.h"
