# dancer_module(<name> DEPS <targets...>)
#   Defines library target dancer_<name> from src/<name>/*.cpp, and its tests from
#   src/<name>/tests/: *_test.cpp -> <name>_unit_tests (ctest label "unit"),
#   *_itest.cpp -> <name>_integration_tests (label "integration": needs the local
#   S3+SQS emulator / PostgreSQL that scripts/test.sh starts).
#   DEPS name the rooms it may include (cmake/Layers.cmake checks every source), TEST_DEPS
#   those its tests may include besides.
include(${CMAKE_CURRENT_LIST_DIR}/Layers.cmake)

function(dancer_module name)
  cmake_parse_arguments(ARG "" "" "DEPS;TEST_DEPS" ${ARGN})
  set(dir ${CMAKE_CURRENT_SOURCE_DIR})
  file(GLOB sources CONFIGURE_DEPENDS ${dir}/*.cpp)
  set(target dancer_${name})
  # The rooms this one may include (cmake/Layers.cmake), recorded for the rooms above it.
  dancer_rooms_of(reach ${ARG_DEPS})
  set_property(GLOBAL PROPERTY DANCER_ROOMS_OF_${name} ${reach})
  file(GLOB headers CONFIGURE_DEPENDS ${dir}/*.h)
  dancer_check_includes(${name} "${name};${reach}" ${sources} ${headers})
  if(sources)
    add_library(${target} STATIC ${sources})
    target_include_directories(${target} PUBLIC ${PROJECT_SOURCE_DIR}/src)
    target_link_libraries(${target} PUBLIC ${ARG_DEPS} PRIVATE dancer_build_flags)
  else()
    add_library(${target} INTERFACE)
    target_include_directories(${target} INTERFACE ${PROJECT_SOURCE_DIR}/src)
    target_link_libraries(${target} INTERFACE ${ARG_DEPS})
  endif()

  if(NOT DANCER_BUILD_TESTS)
    return()
  endif()
  file(GLOB support CONFIGURE_DEPENDS ${dir}/tests/support/*.cpp)
  foreach(kind unit integration)
    if(kind STREQUAL "unit")
      file(GLOB tests CONFIGURE_DEPENDS ${dir}/tests/*_test.cpp)
    else()
      file(GLOB tests CONFIGURE_DEPENDS ${dir}/tests/*_itest.cpp)
    endif()
    if(NOT tests)
      continue()
    endif()
    dancer_rooms_of(test_reach ${ARG_TEST_DEPS})
    file(GLOB test_headers CONFIGURE_DEPENDS ${dir}/tests/*.h ${dir}/tests/support/*.h)
    dancer_check_includes("${name} tests" "${name};${reach};${test_reach};support"
                          ${tests} ${support} ${test_headers})
    set(exe ${name}_${kind}_tests)
    add_executable(${exe} ${tests} ${support})
    target_include_directories(${exe} PRIVATE ${dir}/tests ${PROJECT_SOURCE_DIR}/tests)
    target_link_libraries(${exe} PRIVATE ${target} ${ARG_TEST_DEPS} dancer_test_support
                                         GTest::gtest GTest::gmock GTest::gtest_main
                                         dancer_build_flags)
    # The tests' own code needs no -O3: at -O1 a test source compiles in about 70 % of the
    # time (measured on sigv4_test and clinical_report_test), and the code under test stays in
    # the libraries, built as configured.
    target_compile_options(${exe} PRIVATE $<$<CONFIG:Release>:-O1>)
    # Test data: dancer::testing::test_data() (tests/data, in the repository) and
    # shared_test_data() (../shared/testdata: the videos, which may not be redistributed).
    target_compile_definitions(${exe} PRIVATE
      DANCER_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
      DANCER_SHARED_TESTDATA="${PROJECT_SOURCE_DIR}/../shared/testdata"
      DANCER_BINARY_DIR="${PROJECT_BINARY_DIR}")
    # Integration tests are the long ones (servers, real binaries, loads): a higher COST
    # makes ctest start them first, so the short unit tests fill the gaps at the end instead
    # of one long test running alone (a fresh clone has no timing data to order by).
    if(kind STREQUAL "integration")
      set(cost 20)
    else()
      set(cost 0)
    endif()
    gtest_discover_tests(${exe} PROPERTIES LABELS ${kind} COST ${cost} DISCOVERY_TIMEOUT 60)
  endforeach()
endfunction()
