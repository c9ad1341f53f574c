// rmsmp-convert as a library call: the tool's options (argv[0] is the program name, as in main), its defaults
// (the shipped calibration text, scripts/photos.sh's calibration photos) and checks, then the converter.
// Returns the conversion report; throws rmsmp::Error naming the option or input at fault. Used by the
// rmsmp-convert tool and by the Python package's rmsmp.convert(), so both behave alike.
#pragma once
#include <nlohmann/json.hpp>

namespace rmsmp {

nlohmann::json convert_command(int argc, char** argv);

}  // namespace rmsmp
