/*
 * scr.h
 *		Declarations every part of scr needs.
 */
#ifndef SCR_H
#define SCR_H

/* The prefix of every scr setting; reserved so clients cannot invent one. */
#define SCR_GUC_PREFIX "scr"

#endif							/* SCR_H */
