# The rooms of src/ and the one direction of their dependencies, checked at configure time.
#
# Each dancer_module(<room> DEPS dancer_<other> ...) may include headers of its own room and of
# the rooms it depends on, directly or through them; an include of any other room's header
# ("render/overlay.h" from src/gait) stops the configuration with the file, the line and the
# rooms it may use. Tests may also use the rooms of their TEST_DEPS. The check reads the
# sources themselves, so an include the linker would tolerate (a header-only type) is caught.

# The project's rooms: the folders a quoted include may name ("room/file.h").
set(DANCER_ROOMS common aws media store sandbox pose gait silhouette render analysis service
                 synthetic_walker)

# dancer_check_includes(<who> <allowed rooms (list)> <files...>)
#   Fails the configuration when a file includes a room's header outside <allowed rooms>.
function(dancer_check_includes who allowed)
  list(REMOVE_DUPLICATES allowed)
  foreach(file ${ARGN})
    file(STRINGS ${file} lines REGEX "^[ \t]*#[ \t]*include[ \t]+\"[a-z_]+/")
    foreach(line ${lines})
      string(REGEX MATCH "\"([a-z_]+)/[^\"]+\"" included "${line}")
      set(room ${CMAKE_MATCH_1})
      if(room IN_LIST DANCER_ROOMS AND NOT room IN_LIST allowed)
        string(REPLACE ";" ", " allowed_text "${allowed}")
        message(FATAL_ERROR "${file}: ${who} may not include ${included}: it may use only "
                            "${allowed_text} (cmake/Layers.cmake)")
      endif()
    endforeach()
  endforeach()
endfunction()

# dancer_rooms_of(<out var> <targets...>): the rooms reachable from dancer_<room> targets.
function(dancer_rooms_of out)
  set(rooms "")
  foreach(dep ${ARGN})
    if(dep MATCHES "^dancer_(.+)$" AND CMAKE_MATCH_1 IN_LIST DANCER_ROOMS)
      get_property(reach GLOBAL PROPERTY DANCER_ROOMS_OF_${CMAKE_MATCH_1})
      list(APPEND rooms ${CMAKE_MATCH_1} ${reach})
    endif()
  endforeach()
  list(REMOVE_DUPLICATES rooms)
  set(${out} "${rooms}" PARENT_SCOPE)
endfunction()
