/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * poison.h -- include last, after every system header: the unsafe
 * string and number functions become compile errors.
 */
#ifndef SATCHEL_POISON_H
#define SATCHEL_POISON_H
#if defined(__GNUC__)
#pragma GCC poison sprintf vsprintf strcpy strcat gets strtok atoi
#endif
#endif
