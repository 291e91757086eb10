#pragma once
#define EMBER_VERSION "0.1.0"
