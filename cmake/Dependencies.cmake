# Every dependency comes from Debian's packages (see scripts/install-deps.sh).
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
find_package(CURL REQUIRED)
find_package(OpenSSL REQUIRED)
find_package(SQLite3 REQUIRED)
find_package(PostgreSQL REQUIRED)
find_package(nlohmann_json 3.10 REQUIRED)
find_package(spdlog REQUIRED)
find_package(CLI11 REQUIRED)
# utf8cpp (header-only): UTF-8 validation of object keys before they are stored.
find_package(utf8cpp REQUIRED)
pkg_check_modules(FFMPEG REQUIRED IMPORTED_TARGET libavformat libavcodec libavutil libswscale
                  libswresample)
pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)
# libmagic: MIME type of files that are not media (media/metadata_file_facts.cpp).
pkg_check_modules(LIBMAGIC REQUIRED IMPORTED_TARGET libmagic)
# libseccomp: the system-call filter of the analysis child (analysis/sandbox.cpp).
pkg_check_modules(LIBSECCOMP REQUIRED IMPORTED_TARGET libseccomp)

# Debian ships OpenCV's pkg-config/CMake files only with the full libopencv-dev
# meta-package; we install just core, imgproc, video, dnn and calib3d (the camera's motion
# as a robust similarity fit, analysis/recording_quality.cpp), so locate them directly.
find_path(OPENCV_INCLUDE_DIR opencv2/core.hpp PATH_SUFFIXES opencv4 REQUIRED)
find_path(OPENCV_CALIB3D_INCLUDE_DIR opencv2/calib3d.hpp PATH_SUFFIXES opencv4 REQUIRED)
foreach(_m core imgproc video dnn calib3d)
  find_library(OPENCV_${_m}_LIBRARY opencv_${_m} REQUIRED)
endforeach()
add_library(dancer_opencv INTERFACE)
target_include_directories(dancer_opencv SYSTEM INTERFACE ${OPENCV_INCLUDE_DIR})
target_link_libraries(dancer_opencv INTERFACE
  ${OPENCV_core_LIBRARY} ${OPENCV_imgproc_LIBRARY} ${OPENCV_video_LIBRARY}
  ${OPENCV_dnn_LIBRARY} ${OPENCV_calib3d_LIBRARY})

if(DANCER_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
if(DANCER_BUILD_BENCH)
  find_package(benchmark REQUIRED)
endif()
