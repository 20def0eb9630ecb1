cmake_minimum_required(VERSION 3.25)
# Runs the layer check of cmake/Layers.cmake on one file as if it belonged to room ROOM that may
# use ALLOWED (";"-separated). Used by the layer_check_* tests in CMakeLists.txt:
#   cmake -DROOM=gait -DALLOWED="pose;media;common" -DFILE=<source> -P check_layers.cmake
include(${CMAKE_CURRENT_LIST_DIR}/../Layers.cmake)
dancer_check_includes(${ROOM} "${ROOM};${ALLOWED}" ${FILE})
message(STATUS "layer check passed: ${FILE}")
