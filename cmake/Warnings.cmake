# dancer_build_flags: warnings (as errors by default) and the optional sanitizers,
# linked PRIVATE into every project target so third-party headers are not affected.
add_library(dancer_build_flags INTERFACE)
target_compile_options(dancer_build_flags INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast -Wcast-align
  -Woverloaded-virtual -Wnull-dereference -Wformat=2 -Wimplicit-fallthrough)
# GCC 12 reports -Wrestrict false positives inside libstdc++'s std::string operator+ at -O2
# (GCC bug 105329, fixed in GCC 13): they say nothing about our code.
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
  target_compile_options(dancer_build_flags INTERFACE -Wno-restrict)
endif()
if(DANCER_WERROR)
  target_compile_options(dancer_build_flags INTERFACE -Werror)
endif()
if(DANCER_SANITIZE)
  target_compile_options(dancer_build_flags INTERFACE
    -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  target_link_options(dancer_build_flags INTERFACE -fsanitize=address,undefined)
endif()
